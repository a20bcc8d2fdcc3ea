import pytest

from charff.data.corpora import describe_named, load_corpus, strip_gutenberg
from charff.data.dataset import prepare, split_text
from charff.data.vocab import HINTON30, UNKNOWN, clean_hinton30
from charff.errors import CharffError


def test_hinton30_cleaning_lowercases_collapses_whitespace_and_drops_the_rest():
    assert clean_hinton30("The  Fox,\n\tsaid: \"Hi!\"; ok.") == "the fox, said hi; ok."
    assert set(clean_hinton30("ABC xyz 123 ?!-;,.")) <= set(HINTON30)


def test_split_is_the_tail_and_never_overlaps():
    assert split_text("abcdefghij", 0.2) == ("abcdefgh", "", "ij", "")
    assert split_text("abcdefghij", 0.2, calibration_fraction=0.1) == ("abcdefg", "h", "ij", "")
    assert split_text("abcdefghij", 0.2, 0.1, test_fraction=0.3) == ("abcd", "e", "fg", "hij")


def test_bundled_fables_is_large_original_default():
    corpus = load_corpus("fables")
    assert len(corpus.text) >= 60_000
    assert corpus.source.startswith("bundled")
    assert {d["name"] for d in describe_named()} >= {"aesop", "fables"}
    for info in describe_named():
        assert info["source"] and info["licence"] and info["cleaning"]


def test_aesop_found_through_charff_corpora(aesop_dir):
    data = prepare("aesop", "hinton30", 0.1, 10)
    assert len(data.train) + len(data.calibration) + len(data.val) + len(data.test) == 193_117
    assert len(data.calibration) == round(193_117 * 0.05) and len(data.test) == round(193_117 * 0.1)
    assert data.corpus.source == str(aesop_dir / "aesop.txt")
    assert data.vocab.symbols == HINTON30


def test_aesop_offline_and_uncached_says_where_to_put_it(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARFF_CORPORA", str(tmp_path / "empty"))
    with pytest.raises(CharffError, match="put aesop.txt in"):
        load_corpus("aesop", offline=True)


def test_aesop_from_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("CHARFF_CORPORA", raising=False)
    cache = tmp_path / "cache" / "charff"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "aesop.txt").write_text("THE FOX AND THE GRAPES\nA hungry Fox saw some grapes.", encoding="utf-8")
    assert load_corpus("aesop", offline=True).text.startswith("THE FOX")


def test_gutenberg_header_and_footer_are_stripped():
    raw = ("header\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nbody text\n"
           "*** END OF THE PROJECT GUTENBERG EBOOK X ***\nfooter")
    assert strip_gutenberg(raw) == "body text"


def test_local_file_and_full_alphabet(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("Hello, World! " * 40, encoding="utf-8")
    data = prepare(str(path), "full", 0.1, 5)
    assert data.vocab.symbols.endswith(UNKNOWN)
    assert "H" in data.vocab.symbols and "!" in data.vocab.symbols
    assert data.vocab.decode(data.train[:5]) == "Hello"


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"   \n", "empty"), (b"\x00\x01\x02binary", "binary"), (b"\xff\xfe\xfa", "UTF-8"),
])
def test_bad_files_get_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CharffError, match=message):
        prepare(str(path), "hinton30", 0.1, 10)


def test_corpus_shorter_than_window_is_refused(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("a fox ran", encoding="utf-8")
    with pytest.raises(CharffError, match="too short"):
        prepare(str(path), "hinton30", 0.1, 10)


def test_unknown_corpus_name():
    with pytest.raises(CharffError, match="unknown corpus"):
        load_corpus("no-such-corpus")
