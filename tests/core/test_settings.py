"""Settings come from the environment once, with sensible defaults."""

from pathlib import Path

from core.settings import load_settings


def test_defaults_put_a_sqlite_database_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings({"XDG_DATA_HOME": str(tmp_path)})
    assert settings.data_dir == tmp_path / "zhengyun"
    assert settings.database_url == f"sqlite:///{tmp_path / 'zhengyun' / 'zhengyun.db'}"
    assert settings.lang == "zh" and settings.actor is None


def test_environment_overrides_database_actor_and_language(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "ZHENGYUN_DATABASE_URL": "postgresql://u@127.0.0.1/db",
            "ZHENGYUN_ACTOR": "li",
            "ZHENGYUN_LANG": "EN",
            "ZHENGYUN_DATA_DIR": str(tmp_path),
        }
    )
    assert (settings.database_url, settings.actor, settings.lang, settings.data_dir) == (
        "postgresql://u@127.0.0.1/db",
        "li",
        "en",
        tmp_path,
    )


def test_an_unknown_language_falls_back_to_chinese() -> None:
    assert load_settings({"ZHENGYUN_LANG": "fr"}).lang == "zh"
