"""The popularity inputs of TxT's scoring head: a training example reads the redemptions of
the days before its own, as serving reads the counts up to the model's cutoff. Counting the
whole fitted period would tell the model that an offer first redeemed later (or never) is
never redeemed, which at serving time is every new offer."""

import numpy as np

from recommender.ml.affinity import Popularity

DAYS = np.array(["2025-01-01", "2025-01-02", "2025-01-02", "2025-01-03"], dtype="datetime64[D]")
TARGET = np.array([0, 0, 1, 2])  # offers redeemed by the four examples
SEGMENT = np.array([0, 1, 1, 0])


def before_each() -> np.ndarray:
    return Popularity.features_before(
        offers=3, target=TARGET, segment=SEGMENT, day=DAYS, segments=2
    )


def test_each_example_reads_the_redemptions_of_earlier_days_only() -> None:
    overall = np.exp(before_each()[:, :, 0])

    # Add-one smoothed shares of the redemptions before the example's day.
    np.testing.assert_allclose(overall[0], [1 / 3, 1 / 3, 1 / 3])  # nothing before day 1
    np.testing.assert_allclose(overall[1], [2 / 4, 1 / 4, 1 / 4])  # day 1: offer 0 once
    np.testing.assert_allclose(overall[2], overall[1])  # the same day: not its neighbour's
    np.testing.assert_allclose(overall[3], [3 / 6, 2 / 6, 1 / 6])  # days 1-2


def test_an_offer_first_redeemed_later_reads_as_a_new_offer_does_at_serving() -> None:
    counted = Popularity.count(
        offers=["O0", "O1", "O2"], target=TARGET, segment=SEGMENT, segments=2
    )
    at_serving = counted.for_offers(["O0", "O1", "O2", "NEW"]).features(np.array([0]))
    in_training = before_each()

    # Offer 2's own example (day 3) reads it as never redeemed, the least popular offer,
    # the place a new offer takes at serving; counting the whole period would rank it with O1.
    assert in_training[3, 2, 0] < in_training[3, 1, 0] < in_training[3, 0, 0]
    assert at_serving[0, 3, 0] < at_serving[0, 2, 0] == at_serving[0, 1, 0]


def test_the_segment_share_backs_off_to_the_overall_one() -> None:
    in_segment = np.exp(before_each()[:, :, 1])

    # Example 2 (segment 1, day 2): segment 1 redeemed nothing before day 2, so its share is
    # the overall one.
    np.testing.assert_allclose(in_segment[2], np.exp(before_each()[2, :, 0]))
    assert np.allclose(in_segment.sum(axis=1), 1.0)
