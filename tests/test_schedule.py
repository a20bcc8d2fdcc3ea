import pytest

from charff.errors import CharffError
from charff.schedule import Phase, parse_count, parse_schedule


def test_counts_with_suffixes():
    assert parse_count("250k") == 250_000
    assert parse_count("1M") == 1_000_000
    assert parse_count("1.5k") == 1_500


def test_interleaved_is_one_phase():
    assert parse_schedule("interleaved", 10_000, 64) == [Phase("interleaved", 10_000)]


def test_separated_repeats_and_cuts_the_last_phase():
    phases = parse_schedule("separated:1000/500", 3_200, 100)
    assert [(p.kind, p.chars) for p in phases] == [
        ("wake", 1000), ("sleep", 500), ("wake", 1000), ("sleep", 500), ("wake", 200)]
    assert sum(p.chars for p in phases) == 3_200


def test_explicit_list():
    phases = parse_schedule("wake:2k, sleep:1k, interleaved:1k", 4_000, 10)
    assert [p.kind for p in phases] == ["wake", "sleep", "interleaved"]


@pytest.mark.parametrize("spec", ["sideways", "separated:0", "separated:-5/10", "separated:abc",
                                  "nap:100", "separated:50", "sleep:10k", "separated:9999999999999999999M",
                                  "separated:10k", "wake:2k,sleep:1k"])
def test_bad_schedules_are_refused(spec):
    with pytest.raises(CharffError):
        parse_schedule(spec, 10_000, 64)


def test_a_schedule_can_be_a_toml_array_of_tables(tmp_path):
    from charff.config import load_config

    path = tmp_path / "c.toml"
    path.write_text('[train]\nchars = 3000\nstreams = 10\n'
                    'schedule = [{phase = "wake", chars = 2000}, {phase = "sleep", chars = 1000}]\n')
    assert list(load_config(path).plan.phases) == [Phase("wake", 2000), Phase("sleep", 1000)]


def test_a_warm_start_then_repeating_separated_phases():
    phases = parse_schedule("interleaved:3k,separated:1k/500", 6_000, 10)
    assert [(p.kind, p.chars) for p in phases] == [
        ("interleaved", 3000), ("wake", 1000), ("sleep", 500), ("wake", 1000), ("sleep", 500)]


def test_phases_that_lengthen_every_cycle():
    phases = parse_schedule("separated:1k*2", 10_000, 10)
    assert [(p.kind, p.chars) for p in phases] == [
        ("wake", 1000), ("sleep", 1000), ("wake", 2000), ("sleep", 2000), ("wake", 4000)]


@pytest.mark.parametrize("spec", ["separated:1k,wake:1k", "separated:1k*0.5", "separated:1k*x"])
def test_bad_patterns_are_refused(spec):
    with pytest.raises(CharffError):
        parse_schedule(spec, 10_000, 10)
