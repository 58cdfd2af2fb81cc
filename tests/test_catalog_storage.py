"""Storage settings: precedence, derived client options, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from loglake.catalog import StorageSettings
from loglake.errors import UserError


def test_arguments_beat_environment_beat_config_file(tmp_path: Path) -> None:
    config = tmp_path / "loglake.toml"
    config.write_text(
        '[lake]\nroot = "s3://from-file/lake"\nregion = "eu-west-1"\nendpoint_url = "http://file:1"\n'
    )
    environ = {"LOGLAKE_CONFIG": str(config), "AWS_ENDPOINT_URL": "http://env:2"}
    settings = StorageSettings.resolve(environ=environ, access_key_id="a", secret_access_key="b")
    assert settings.root == "s3://from-file/lake"
    assert settings.region == "eu-west-1"
    assert settings.endpoint_url == "http://env:2"
    explicit = StorageSettings.resolve(
        "s3://explicit/x", environ=environ, endpoint_url="http://arg:3"
    )
    assert (explicit.root, explicit.endpoint_url) == ("s3://explicit/x", "http://arg:3")
    from_env = StorageSettings.resolve(environ={"LOGLAKE_LAKE": str(tmp_path / "envlake")})
    assert from_env.root == str(tmp_path / "envlake")


def test_missing_root_and_unknown_settings_are_user_errors() -> None:
    with pytest.raises(UserError, match="no lake given"):
        StorageSettings.resolve(environ={})
    with pytest.raises(UserError, match="unknown storage setting"):
        StorageSettings.resolve("x", environ={}, bucket_name="y")
    with pytest.raises(UserError, match="unsupported lake URL scheme"):
        StorageSettings.resolve("gs://bucket/x", environ={})


def test_one_settings_object_derives_every_client_option() -> None:
    settings = StorageSettings.resolve(
        "s3a://bkt/prefix/",
        environ={},
        endpoint_url="http://127.0.0.1:9000",
        region="eu-central-1",
        access_key_id="AKIA",
        secret_access_key="topsecret",
    )
    assert settings.root == "s3://bkt/prefix"
    assert settings.url("aws", "cloudtrail") == "s3://bkt/prefix/aws/cloudtrail"
    fsspec_options = settings.fsspec_options()
    assert fsspec_options["key"] == "AKIA" and fsspec_options["secret"] == "topsecret"
    assert fsspec_options["client_kwargs"] == {
        "region_name": "eu-central-1",
        "endpoint_url": "http://127.0.0.1:9000",
    }
    assert fsspec_options["config_kwargs"] == {"s3": {"addressing_style": "path"}}
    delta = settings.delta_storage_options()
    assert delta["aws_endpoint_url"] == "http://127.0.0.1:9000"
    assert delta["aws_allow_http"] == "true"
    assert delta["aws_virtual_hosted_style_request"] == "false"
    assert delta["aws_conditional_put"] == "etag"
    polars_options = settings.polars_storage_options()
    assert polars_options is not None and "aws_conditional_put" not in polars_options
    assert polars_options["aws_secret_access_key"] == "topsecret"


def test_secrets_are_never_shown() -> None:
    settings = StorageSettings.resolve(
        "s3://bkt/x",
        environ={},
        access_key_id="AKIA",
        secret_access_key="topsecret",
        session_token="tok",
    )
    assert "topsecret" not in repr(settings) and "tok" not in repr(settings)
    described = settings.describe()
    assert described["secret_access_key"] == "****" and described["session_token"] == "****"


def test_credentials_come_from_the_standard_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "CHAINKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "chainsecret")
    settings = StorageSettings.resolve("s3://bkt/x", environ={}, region="us-east-1")
    assert settings.access_key_id is None  # not captured in the settings themselves
    assert settings.delta_storage_options()["aws_access_key_id"] == "CHAINKEY"
    assert settings.fsspec_options()["key"] == "CHAINKEY"


def test_local_roots_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = StorageSettings.resolve("lake", environ={})
    assert settings.root == str(tmp_path / "lake")
    assert settings.polars_storage_options() is None and settings.delta_storage_options() == {}
