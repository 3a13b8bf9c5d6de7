"""One evaluation protocol: every method ranks the same candidates, the offers the engine could
give in the example's context. Fixed numbers, no lake."""

from __future__ import annotations

import numpy as np

from recommender.ml.training import method_result
from recommender.ml.training_data import CONTEXT_FIELDS, Examples, Vocabulary, candidates_restrict

VOCABULARY = Vocabulary(
    items=[],
    offers=["any", "premium-only", "app-only", "dinner-only"],
    context={
        **{name: ["none"] for name in CONTEXT_FIELDS},
        "tier": ["none", "premium", "value"],
        "channel": ["none", "drive_thru", "mobile_app"],
        "daypart": ["none", "breakfast", "dinner"],
    },
)
# [offer, tier premium/value, channel drive_thru/mobile_app, daypart breakfast/dinner]
FEATURES = np.array(
    [
        [1, 1, 1, 1, 1, 1],
        [1, 0, 1, 1, 1, 1],
        [1, 1, 0, 1, 1, 1],
        [1, 1, 1, 1, 0, 1],
    ],
    np.float32,
)


def _examples(contexts: list[dict[str, str]], target: list[int]) -> Examples:
    n = len(contexts)
    codes = np.zeros((n, len(CONTEXT_FIELDS)), np.int64)
    for row, values in enumerate(contexts):
        for name, value in values.items():
            codes[row, CONTEXT_FIELDS.index(name)] = VOCABULARY.context[name].index(value)
    return Examples(
        customer_id=np.array([f"C{i}" for i in range(n)]),
        at=np.zeros(n, "datetime64[us]"),
        history=np.zeros((n, 1), np.int64),
        history_at=np.zeros((n, 1), "datetime64[us]"),
        context=codes,
        target=np.array(target),
        valid=np.ones((n, len(VOCABULARY.offers)), bool),
    )


def test_candidates_are_the_offers_the_context_allows_and_the_redeemed_one_stays() -> None:
    examples = _examples(
        [
            {"tier": "value", "channel": "drive_thru", "daypart": "breakfast"},
            {},  # nothing recorded: every offer valid that day is a candidate
            {"tier": "value", "channel": "drive_thru", "daypart": "breakfast"},
        ],
        target=[0, 0, 1],  # the third redeemed a premium-only offer in a value store
    )

    candidates_restrict(examples=examples, features=FEATURES, vocabulary=VOCABULARY)

    assert examples.valid.tolist() == [
        [True, False, False, False],
        [True, True, True, True],
        [True, True, False, False],
    ]
    assert examples.dated is not None and examples.dated.all()


def test_a_method_gains_nothing_from_scoring_offers_the_context_rules_out() -> None:
    examples = _examples([{"tier": "value", "channel": "drive_thru", "daypart": "breakfast"}], [0])
    candidates_restrict(examples=examples, features=FEATURES, vocabulary=VOCABULARY)
    honest = np.array([[1.0, 0.0, 0.0, 0.0]])
    # Puts three offers the engine could never give here above the redeemed one.
    eligibility_learner = np.array([[1.0, 5.0, 5.0, 5.0]])

    first = method_result("honest", honest, examples)
    second = method_result("eligibility learner", eligibility_learner, examples)

    assert first.metrics == second.metrics and first.metrics["HR@1"] == 1.0
    dated = method_result("dated", eligibility_learner, examples, candidates=examples.dated)
    assert dated.metrics["HR@1"] == 0.0 and dated.metrics["HR@10"] == 1.0
