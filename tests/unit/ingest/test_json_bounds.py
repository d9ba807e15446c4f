import pytest

from monitor.ingest.json_bounds import MAX_DEPTH, NotUsableJson, load_json


def nested(depth: int) -> str:
    return '{"a": ' * (depth - 1) + "[]" + "}" * (depth - 1)


def test_json_up_to_the_depth_is_read() -> None:
    assert load_json(nested(MAX_DEPTH)) is not None
    assert load_json(b'{"resourceType": "Observation"}') == {"resourceType": "Observation"}
    wide = "[" + ", ".join(['{"a": [1]}'] * MAX_DEPTH) + "]"  # many brackets, three deep
    assert len(load_json(wide)) == MAX_DEPTH
    assert load_json('{"text": "' + "{" * 100 + '"}') == {"text": "{" * 100}


@pytest.mark.parametrize("text", [nested(MAX_DEPTH + 1), "[" * 100_000 + "]" * 100_000])
def test_deeper_json_is_refused_without_a_recursion_error(text: str) -> None:
    with pytest.raises(NotUsableJson, match="nested deeper than 64 levels"):
        load_json(text)


def test_broken_json_says_where() -> None:
    with pytest.raises(NotUsableJson, match="not JSON: Expecting value") as caught:
        load_json('{\n"a":\n}')
    assert caught.value.line == 3
    with pytest.raises(NotUsableJson, match="not JSON"):
        load_json(b"\xff\xfe{")
