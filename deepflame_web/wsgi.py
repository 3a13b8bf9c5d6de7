import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deepflame_web.settings.base")
application = get_wsgi_application()

# Move what start-up loaded out of the garbage collector's reach: otherwise a full collection
# walks those ~200k objects (about 110 ms) on whichever request crosses the threshold, which
# is most of the rule page's p95 (benchmarks/rules_bench.py).
gc.collect()
gc.freeze()
