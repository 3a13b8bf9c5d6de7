"""The popularity inputs of TxT's scoring head: a training example reads the redemptions of
the days before its own, and the days each offer had been listed by then, as serving reads
the counts up to the model's cutoff. Counting the whole fitted period would tell the model
that an offer first redeemed later (or never) is never redeemed, and counting redemptions
without the days listed would read every new offer as one nobody wants."""

import numpy as np

from recommender.ml.affinity import Popularity

DAYS = np.array(["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-03"], dtype="datetime64[D]")
TARGET = np.array([0, 0, 1, 3])  # offers redeemed by the four examples
SEGMENT = np.array([0, 1, 1, 0])
# Offers 0-2 listed from day 1 (offer 2 never redeemed), offer 3 from day 3.
LISTED = (
    np.array(["2025-01-01"] * 3 + ["2025-01-03"], dtype="datetime64[D]"),
    np.array(["2025-12-31"] * 4, dtype="datetime64[D]"),
)


def before_each() -> np.ndarray:
    counts = Popularity.counts_before(
        offers=4, target=TARGET, segment=SEGMENT, day=DAYS, segments=2, listed=LISTED
    )
    return counts.rows(np.arange(len(DAYS)))


def test_each_example_reads_the_redemptions_of_earlier_days_only() -> None:
    overall = np.exp(before_each()[:, :, 0])

    np.testing.assert_allclose(overall[0], [1 / 4] * 4)  # nothing before day 1
    assert overall[1, 0] > overall[1, 1] == overall[1, 2]  # day 1: offer 0 once
    np.testing.assert_allclose(overall[2], overall[1])  # the same day: not its neighbour's
    assert overall[3, 0] > overall[3, 1] > overall[3, 2]  # days 1-2: twice, once, never
    assert np.allclose(overall.sum(axis=1), 1.0)


def test_an_offer_just_listed_reads_above_one_listed_for_days_and_never_redeemed() -> None:
    in_training = before_each()
    counted = Popularity.count(
        offers=["O0", "O1", "O2", "O3"],
        target=TARGET,
        segment=SEGMENT,
        segments=2,
        exposure=np.array([3.0, 3.0, 3.0, 1.0]),
    )
    at_serving = counted.for_offers(["O0", "O1", "O2", "NEW"]).features(np.array([0]))

    # Offer 3's own example (day 3, its first listed day) reads it above offer 2, never
    # redeemed in two days listed; at serving a new offer takes the same place.
    assert in_training[3, 3, 0] > in_training[3, 2, 0]
    assert at_serving[0, 3, 0] > at_serving[0, 2, 0]


def test_the_segment_share_backs_off_to_the_overall_one() -> None:
    in_segment = np.exp(before_each()[:, :, 1])

    # Example 2 (segment 1, day 2): segment 1 redeemed nothing before day 2, so its share is
    # the overall one.
    np.testing.assert_allclose(in_segment[2], np.exp(before_each()[2, :, 0]))
    assert np.allclose(in_segment.sum(axis=1), 1.0)


def test_a_model_saved_before_days_listed_were_counted_reads_what_it_was_trained_on() -> None:
    overall = np.array([40.0, 25.0, 3.0, 0.0])
    old_file = {
        "offers": ["O0", "O1", "O2", "O3"],
        "overall": overall.tolist(),
        "by_segment": [overall.tolist()],
    }

    read = np.exp(Popularity.from_dict(old_file).features(np.array([0]))[0, :, 0])

    # What such a model was trained on: add-one smoothed shares of the counts.
    np.testing.assert_allclose(read, (overall + 1) / (overall.sum() + 4), rtol=0.02)
