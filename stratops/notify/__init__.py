"""Notifications: controller events sent to webhooks (generic JSON or Slack-compatible)."""
