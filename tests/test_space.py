import pytest

from tfnas.space import (
    EDGES,
    NUM_ARCHS,
    OPS,
    Arch,
    BenchmarkIndex,
    all_archs,
    format_arch,
    lookup,
    parse_arch,
)

ALL_CONV = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
            "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
MIXED = ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
         "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")


def test_parse_and_format_round_trip():
    arch = parse_arch(MIXED)
    assert arch.ops == ("avg_pool_3x3", "nor_conv_1x1", "skip_connect",
                        "nor_conv_1x1", "skip_connect", "skip_connect")
    assert format_arch(arch) == MIXED == str(arch)


def test_arch_code_is_base5_over_edges_in_string_order():
    assert parse_arch(MIXED).code == 4 + 2 * 5 + 1 * 25 + 2 * 125 + 1 * 625 + 1 * 3125
    assert parse_arch(ALL_CONV).code == sum(3 * 5**k for k in range(6))
    assert Arch(("none",) * 6).code == 0
    assert Arch.from_code(parse_arch(MIXED).code) == parse_arch(MIXED)


def test_enumeration_covers_the_space_once_in_code_order():
    archs = list(all_archs())
    assert len(archs) == NUM_ARCHS == 15625 == len(OPS) ** len(EDGES)
    assert [a.code for a in archs] == list(range(NUM_ARCHS))
    assert len({str(a) for a in archs}) == NUM_ARCHS


def test_mutations_change_exactly_one_edge():
    arch = parse_arch(MIXED)
    mutants = arch.mutations()
    assert len(mutants) == 24 == len(set(mutants))
    assert arch not in mutants
    for m in mutants:
        assert sum(a != b for a, b in zip(arch.ops, m.ops, strict=True)) == 1


@pytest.mark.parametrize("text, token", [
    ("|nor_conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_5x5"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "none~1"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 needs 3"),
    ("|none~0|+|none~0|none~1|", "need 3"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2| ", "must start and end"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|x", "must start and end"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~02|", "none~02"),
    ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", "none0"),
    ("", "need 3"),
    ("|none~0\n|+|none~0|none~1|+|none~0|none~1|none~2|", r"'none~0\n'"),
    ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2\n|", r"'none~2\n'"),
])
def test_malformed_strings_name_the_bad_token_and_the_expected_form(text, token):
    with pytest.raises(ValueError) as err:
        parse_arch(text)
    message = str(err.value)
    assert token in message
    assert "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in message
    assert "\n" not in message


def test_arch_rejects_bad_ops_and_codes():
    with pytest.raises(ValueError, match="unknown op 'conv'"):
        Arch(("conv",) * 6)
    with pytest.raises(ValueError, match="0..15624"):
        Arch.from_code(15625)
    with pytest.raises(ValueError, match="0..15624"):
        Arch.from_code(-1)


def test_lookups_are_explicit_about_what_an_integer_means():
    bench = BenchmarkIndex([(0, MIXED), (1, ALL_CONV)])
    assert lookup(0, by="index", benchmark=bench) == parse_arch(MIXED)
    assert lookup(0, by="code") == Arch(("none",) * 6)
    assert lookup(MIXED, by="str") == parse_arch(MIXED)
    assert bench.index(ALL_CONV) == 1
    with pytest.raises(ValueError, match="needs a loaded benchmark"):
        lookup(0, by="index")
    with pytest.raises(ValueError, match="unknown look-up"):
        lookup(0, by="number")
    with pytest.raises(KeyError, match="arch_index 7"):
        bench.arch(7)
    with pytest.raises(ValueError, match="twice"):
        BenchmarkIndex([(0, MIXED), (1, MIXED)])


# --- property tests (Hypothesis): the parser and the arch-file reader ------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tfnas.space import read_archs_file  # noqa: E402

ARCHS = st.tuples(*[st.sampled_from(OPS)] * 6).map(Arch)
TOKENS = st.sampled_from(["|", "+", "~", "0", "1", "2", "3", " ", "none", "skip_connect",
                          "nor_conv_3x3", "avg_pool_3x3", "x", "\n", "\x00", "é"])


@given(ARCHS)
def test_property_every_architecture_round_trips(arch):
    assert parse_arch(format_arch(arch)) == arch
    assert Arch.from_code(arch.code) == arch


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=120), st.lists(TOKENS, max_size=40).map("".join),
                 st.tuples(ARCHS, st.integers(0, 200), st.text(max_size=3)).map(
                     lambda t: str(t[0])[:t[1]] + t[2] + str(t[0])[t[1]:])))
def test_property_any_text_parses_to_a_valid_arch_or_fails_in_one_short_line(text):
    try:
        arch = parse_arch(text)
    except ValueError as err:
        message = str(err)
        assert "\n" not in message and len(message) < 400
        assert message.startswith("malformed architecture string")
        return
    assert format_arch(arch) == text  # only the exact canonical form parses


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_property_any_file_reads_or_fails_naming_it(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("archs") / "archs.txt"
    path.write_bytes(data)
    try:
        archs = read_archs_file(path)
    except (ValueError, OSError) as err:
        assert str(path) in str(err) and "\n" not in str(err)
        return
    assert archs and all(isinstance(a, Arch) for a in archs)


WHITESPACE = st.sampled_from(["\n", "\r", "\r\n", " ", "\t", "\v", "\f", "\x00", "\u2028"])


@given(ARCHS, WHITESPACE)
def test_property_whitespace_anywhere_is_refused(arch, space):
    """Only the exact string parses: no "\n" (which a regex "$" lets through at the end of a
    token) or other whitespace at any position, next to a separator or inside a token."""
    text = str(arch)
    for at in range(len(text) + 1):
        with pytest.raises(ValueError, match="^malformed architecture string"):
            parse_arch(text[:at] + space + text[at:])
