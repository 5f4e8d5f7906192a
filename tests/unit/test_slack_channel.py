"""The Slack channel (extensions/channels/slack.py) without servers: its settings and formatting.
The booted assistant on Slack is tested in tests/system/test_slack.py."""

import os

from extensions.channels.slack import (
    EnvSlackBot,
    EnvSlackInput,
    SlackNotConfigured,
    to_mrkdwn,
)

TOKEN = "xoxb-test"
SECRET = "test-signing-secret"


def test_without_the_env_vars_the_channel_says_slack_is_not_configured(monkeypatch):
    for name in [n for n in os.environ if n.startswith("SLACK_")]:
        monkeypatch.delenv(name)
    channel = EnvSlackInput.from_credentials(None)
    assert isinstance(channel, SlackNotConfigured)
    assert channel.name() == "slack" and channel.missing == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    assert channel.blueprint(lambda _: None).name == "slack_webhook"
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)  # a token alone is not enough
    assert EnvSlackInput.from_credentials(None).missing == ["SLACK_SIGNING_SECRET"]


def test_settings_come_from_the_environment():
    env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": "http://127.0.0.1:9/api"}
    channel = EnvSlackInput.from_env(env)
    assert isinstance(channel, EnvSlackInput)
    assert (channel.slack_token, channel.slack_signing_secret) == (TOKEN, SECRET)
    assert channel.use_threads is True and channel.slack_channel is None
    assert channel.conversation_granularity == "sender"
    assert channel.errors_ignore_retry == []  # no retry is dropped for its reason: the event store decides
    out = channel.get_output_channel("D1", "123.456")
    assert isinstance(out, EnvSlackBot) and out.client.base_url == "http://127.0.0.1:9/api/"
    assert out.thread_id == "123.456"
    assert EnvSlackInput.from_env({**env, "SLACK_API_URL": ""}).get_output_channel("D1").client.base_url == (
        "https://slack.com/api/"
    )

    channel = EnvSlackInput.from_env(
        {**env, "SLACK_USE_THREADS": "false", "SLACK_CHANNEL": "C9", "SLACK_CONVERSATION_GRANULARITY": "thread"}
    )
    assert (channel.use_threads, channel.slack_channel, channel.conversation_granularity) == (False, "C9", "thread")
    channel = EnvSlackInput.from_env({**env, "SLACK_USE_THREADS": "maybe", "SLACK_CONVERSATION_GRANULARITY": "x"})
    assert (channel.use_threads, channel.conversation_granularity) == (True, "sender")


def test_text_becomes_slack_mrkdwn():
    assert to_mrkdwn("B12 < 200 & folate > 3") == "B12 &lt; 200 &amp; folate &gt; 3"
    assert (
        to_mrkdwn("**Note**: see [the NIH](https://ods.od.nih.gov)") == "*Note*: see <https://ods.od.nih.gov|the NIH>"
    )
    assert to_mrkdwn("Plain words stay as they are.") == "Plain words stay as they are."
