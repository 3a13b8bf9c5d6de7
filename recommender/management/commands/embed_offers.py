from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommender.ml.embeddings import EmbeddingError, embedding_space_build


class Command(BaseCommand):
    help = "Encode every offer's text and image and train a new active offer embedding space."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dimensions", type=int, default=None, help="embedding size")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            space = embedding_space_build(dimensions=options["dimensions"])
        except EmbeddingError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"  text encoder: {space.text_encoder['name']} ({space.text_encoder['path']})\n"
            f"  image encoder: {space.image_encoder['name']}: {space.image_encoder['reason']}\n"
            f"  autoencoder loss {space.first_loss:.3f} -> {space.final_loss:.2e}"
        )
        self.stdout.write(self.style.SUCCESS(f"{space} is active."))
