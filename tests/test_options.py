"""The clients' shared constructor options: ``env`` is checked when they are made."""

from __future__ import annotations

import pytest

import sigv4_imagebuilder as sib
from sigv4_imagebuilder._options import ClientOptions


@pytest.mark.parametrize(
    "env",
    [
        [("AWS_SECRET_ACCESS_KEY", "SECRETinalist")],
        "AWS_SECRET_ACCESS_KEY=SECRETinastring",
        42,
    ],
)
@pytest.mark.parametrize("client", [sib.ImageBuilderClient, sib.AsyncImageBuilderClient])
def test_an_env_that_is_not_a_mapping_is_refused_without_echo(env: object, client: type) -> None:
    # It once failed later, as a raw AttributeError ('list' object has no attribute 'get').
    with pytest.raises(sib.ParamValidationError, match="must be a mapping") as info:
        client(env=env, region="us-east-1", credentials=sib.Credentials("A", "s"))
    assert info.value.param == "env"
    assert "SECRETin" not in str(info.value) + repr(info.value)
    assert type(env).__name__ in str(info.value)


def test_none_and_any_mapping_are_accepted() -> None:
    assert ClientOptions().env is None
    assert ClientOptions(env={"AWS_REGION": "us-east-1"}).env == {"AWS_REGION": "us-east-1"}
