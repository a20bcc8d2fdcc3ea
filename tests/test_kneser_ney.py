"""The Kneser-Ney yardsticks: hand-computed probabilities, proper distributions, fitted discounts."""

import math
import random

import numpy as np
import pytest

from charff.data.kneser_ney import KneserNey, best_order, fit_discounts, kneser_ney_yardsticks


def test_a_bigram_model_matches_the_hand_computed_probabilities():
    """Text a b a b c (ids 0 1 0 1 2), every discount 1/2 (so gamma = D x the types seen).
    Bigrams: a->b twice, b->a, b->c. Continuation counts: a, b and c each follow one distinct
    character, so the base is 1/3 for each.
    p(b | a) = (2 - 1/2 + 1/2 * 1 * 1/3) / 2 = 5/6;  p(a | b) = (1 - 1/2 + 1/2 * 2 * 1/3) / 2 = 5/12."""
    model = KneserNey(2, 3, discount=0.5).fit([0, 1, 0, 1, 2])
    assert model.probability((0,), 1) == pytest.approx(5 / 6)
    assert model.probability((0,), 0) == pytest.approx(1 / 12)
    assert np.allclose(model.distribution((1,)), [5 / 12, 1 / 6, 5 / 12])
    assert np.allclose(model.distribution((2,)), [1 / 3, 1 / 3, 1 / 3])  # c never had a successor: the base


def test_continuation_counts_count_distinct_characters_before():
    """Text a b a b c a c (0 1 0 1 2 0 2), every discount 1/2. a follows b and c, b follows a,
    c follows b and a: continuation counts 2, 1, 2 (total 5, gamma 1.5), so the base is
    p(a) = (2 - 1/2 + 1.5/3) / 5 = 0.4, p(b) = 0.2, p(c) = 0.4. After a (a->b twice, a->c once,
    gamma 1): p(b | a) = (2 - 1/2 + 0.2) / 3, p(c | a) = (1 - 1/2 + 0.4) / 3, p(a | a) = 0.4 / 3."""
    model = KneserNey(2, 3, discount=0.5).fit([0, 1, 0, 1, 2, 0, 2])
    assert np.allclose(model.distribution((0,)), [0.4 / 3, 1.7 / 3, 0.9 / 3])
    assert np.allclose(model.distribution((2,)), [0.7, 0.1, 0.2])  # c -> a once, gamma 1/2


@pytest.mark.parametrize("order", [1, 2, 3, 5, 7])
def test_every_context_gets_a_proper_distribution(order):
    rng = random.Random(order)
    text = [rng.choice([0, 0, 1, 2, 3, 4]) for _ in range(3000)]
    model = KneserNey(order, 6, discount=0.7).fit(text)
    for _ in range(50):
        history = tuple(rng.randrange(6) for _ in range(order))
        p = model.distribution(history)
        assert p.min() > 0 and p.sum() == pytest.approx(1.0)
        assert p[3] == pytest.approx(model.probability(history, 3))


def test_bits_from_statistics_equal_the_recursion():
    rng = random.Random(1)
    text = [rng.choice([0, 1, 1, 2, 3]) for _ in range(2000)]
    model = KneserNey(3, 4, discount=0.6).fit(text[:1500])
    held, history = text[1500:], text[:1500]
    direct = -sum(math.log2(model.probability(tuple((history + held)[1500 + i - 2 : 1500 + i]), c))
                  for i, c in enumerate(held)) / len(held)
    assert model.bits_of(model.statistics(held, history)) == pytest.approx(direct)


def test_the_fitted_discounts_beat_other_discounts_on_held_out_text():
    rng = random.Random(0)
    words = ["the ", "fox ", "and ", "grapes ", "crow "]
    text = [ord(c) - 97 if c != " " else 26 for c in "".join(rng.choice(words) for _ in range(2000))]
    train, held = text[:8000], text[8000:]
    model = KneserNey(4, 27).fit(train)
    fitted = fit_discounts(model, held, train)
    assert fitted.shape == (4, 3) and (fitted > 0.01).all() and (fitted < 3).all()
    statistics = model.statistics(held, train)
    at_fit = model.bits_of(statistics)
    for other in (0.05, 0.75, 0.98):  # plain interpolated Kneser-Ney with one discount everywhere
        assert at_fit <= model.bits_of(statistics, np.full((4, 3), other)) + 1e-9


def test_longer_orders_predict_repetitive_text_better_and_the_best_is_named():
    text = [i % 7 for i in range(700)] + [3, 1, 4, 1, 5, 9, 2, 6] * 40
    (results,) = kneser_ney_yardsticks(text[:800], text[800:900], [text[900:]], 10, orders=(1, 2, 3))
    assert results[0].bits_per_char > results[2].bits_per_char
    assert best_order(results).order in (2, 3)
    assert all(math.isfinite(r.bits_per_char) and 0 <= r.accuracy <= 1 for r in results)


def test_a_later_split_is_predicted_from_all_the_text_before_it():
    text = [i % 7 for i in range(700)] + [3, 1, 4, 1, 5, 9, 2, 6] * 40
    val, test = text[900:1000], text[1000:]
    alone, = kneser_ney_yardsticks(text[:800], text[800:900], [test], 10, orders=(3,))
    after_val = kneser_ney_yardsticks(text[:800], text[800:900], [val, test], 10, orders=(3,))[1]
    model = KneserNey(3, 10).fit(text[:800])
    fit_discounts(model, text[800:900], text[:800])
    assert after_val[0] == model.evaluate(test, text[:1000])
    assert alone[0].discounts == after_val[0].discounts  # the same fit, another history
    assert 0 < after_val[0].bits_per_char_ci and 0 <= after_val[0].accuracy_ci
