import pytest

from bo_transfer.errors import UserError
from bo_transfer.registry import Registry


def test_duplicate_name_raises():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.add("a", 2)


def test_unknown_name_suggests_closest():
    reg: Registry[int] = Registry("method")
    for name in ["cold-gp", "prior-mean", "random"]:
        reg.add(name, 0)
    with pytest.raises(UserError, match=r"unknown method 'cold_gp'; did you mean 'cold-gp'"):
        reg.get("cold_gp")


def test_unknown_name_without_near_match_lists_known():
    reg: Registry[int] = Registry("method")
    reg.add("random", 0)
    with pytest.raises(UserError, match="known: random"):
        reg.get("zzzzzz")


def test_decorator_registers_and_returns_object():
    reg: Registry[type] = Registry("thing")

    @reg.register("x")
    class X:
        pass

    assert reg.get("x") is X
    assert "x" in reg and reg.names() == ["x"]
