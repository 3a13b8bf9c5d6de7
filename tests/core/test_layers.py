"""The layer check that CI runs: it must pass on the tree and fail on each kind of wrong import."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "check_layers.py"


@pytest.fixture(scope="module")
def check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_the_tree_keeps_its_layers(check: ModuleType) -> None:
    assert check.violations(check.source_files()) == []


def test_the_catalog_may_not_import_the_recommender(check: ModuleType) -> None:
    problems = check.module_problems(
        module="offers.models", source="from recommender.models import Decision\n"
    )

    assert problems == [
        "offers.models:1: imports recommender.models.Decision from the layer recommender, "
        "above its own (offers)"
    ]


def test_core_may_not_import_any_app_even_relatively(check: ModuleType) -> None:
    problems = check.module_problems(
        module="deepflame_web.core.lake", source="from ...segments import models\n"
    )

    assert len(problems) == 1
    assert "imports segments.models from the layer segments" in problems[0]


def test_the_rules_sit_above_segments_while_the_catalog_sits_below(check: ModuleType) -> None:
    rules = check.module_problems(
        module="offers.rules.services", source="from segments.models import Segment\n"
    )
    catalog = check.module_problems(
        module="offers.eligibility", source="from segments.models import Segment\n"
    )

    assert rules == []
    assert len(catalog) == 1


def test_only_the_named_exception_may_point_upward(check: ModuleType) -> None:
    source = "from offers.rules.services import rules_carry_over\n"

    named = check.module_problems(module="segments.segmentation.services", source=source)
    other = check.module_problems(module="segments.selectors", source=source)

    assert named == []
    assert len(other) == 1


def test_a_function_level_import_needs_a_reason(check: ModuleType) -> None:
    hidden = "def f():\n    from segments.models import Segment\n    return Segment\n"
    explained = (
        "def f():\n"
        "    # imported here: the worker alone needs it\n"
        "    from segments.models import Segment\n"
        "    return Segment\n"
    )

    problems = check.module_problems(module="recommender.views", source=hidden)

    assert len(problems) == 1
    assert "inside a function" in problems[0]
    assert check.module_problems(module="recommender.views", source=explained) == []
