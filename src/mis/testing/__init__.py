"""Real parts for tests and offline runs: an OpenAI-compatible server on loopback with scripted replies."""

from mis.testing._openai_server import ScriptedOpenAIServer, ScriptedReply, message_text

__all__ = ["ScriptedOpenAIServer", "ScriptedReply", "message_text"]
