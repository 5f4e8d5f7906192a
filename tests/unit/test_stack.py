"""evaluation/stack.py: the servers under test start from a clean environment."""

from evaluation.stack import Stack, clean_env, port


def test_nothing_from_the_developers_shell_reaches_the_servers(monkeypatch):
    for name, value in {
        "DB_HOST": "db.example",
        "REDIS_HOST": "redis.example",
        "ENABLE_API": "1",
        "TRACKER_DB": "/home/me/var/tracker.db",
        "SANIC_REQUEST_TIMEOUT": "1",
        "SQL_POOL_SIZE": "1",
        "http_proxy": "http://proxy.example:3128",
        "SLACK_BOT_TOKEN": "xoxb-real",
        "PYTHONPATH": "/elsewhere",
        "VENV": "/opt/venv",
        "CI": "true",
    }.items():
        monkeypatch.setenv(name, value)
    env = clean_env({"RASA_PORT": 5999})
    assert env["RASA_PORT"] == "5999" and env["VENV"] == "/opt/venv" and env["CI"] == "true"
    assert "PATH" in env
    for name in ("DB_HOST", "REDIS_HOST", "ENABLE_API", "TRACKER_DB", "SANIC_REQUEST_TIMEOUT", "SQL_POOL_SIZE"):
        assert name not in env, name
    assert not {"http_proxy", "SLACK_BOT_TOKEN", "PYTHONPATH"} & set(env)


def test_a_stack_has_its_own_folder_database_and_ports(monkeypatch, tmp_path):
    monkeypatch.setenv("B12_TEST_PORT_OFFSET", "1000")
    assert port(5105) == 6105
    stack = Stack(port(5105), port(5155), home=tmp_path / "s")
    env = stack.env(ENABLE_API="1")
    assert env["RASA_PORT"] == "6105" and env["ACTIONS_PORT"] == "6155" and env["ENABLE_API"] == "1"
    assert env["TRACKER_DB"] == str(tmp_path / "s" / "data" / "tracker.db")
    assert env["RUN_DIR"] == str(tmp_path / "s" / "run") and "SERVE_WEB" not in env
    assert stack.url == "http://127.0.0.1:6105" and stack.webhook.endswith("/webhooks/rest/webhook")
    stack.remove()
    assert (tmp_path / "s").exists()  # a home given by the caller is never deleted
