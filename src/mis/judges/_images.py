"""The images a judge shows: the same references the model under test saw, in order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from inspect_ai.model import ChatMessage, ChatMessageUser, Content, ContentImage, ContentText
from inspect_ai.solver import TaskState

from mis._util.file_media import file_marker


async def sample_images(state: TaskState) -> list[str]:
    """The images of the sample's first user turn (else its metadata's ``images``), as data URIs.

    The model under test's request already carries them encoded, so the judge reuses those bytes instead of
    reading the files again; references that are still paths (``mis judge`` of recorded responses) become
    file markers, read from the sample's own dataset (trusted) when the request is sent.
    """
    from inspect_ai.util import materialize_media

    refs: list[str] = []
    for message in state.messages:
        if message.role == "user" and not isinstance(message.content, str):
            refs = [part.image for part in message.content if isinstance(part, ContentImage)]
            if refs:
                break
    refs = refs or list(state.metadata.get("images", []))
    # a local file becomes (and a file marker stays) a marker: the judge's model inlines it at the provider
    # boundary (judge_model), so the sample's state and inspect's event log never hold the bytes
    return [ref if ref.startswith("data:") else await materialize_media(ref) if "://" in ref
            else file_marker(ref) for ref in refs]


def images_then(text: str, images: list[str]) -> list[ChatMessage]:
    """One user turn: the images in order, then ``text``."""
    content: list[Content] = [ContentImage(image=p) for p in images]
    content.append(ContentText(text=text))
    return [ChatMessageUser(content=content)]


Messages = Callable[[TaskState], Awaitable[list[ChatMessage]]]


def image_prompt(prompt_of: Callable[[TaskState], str]) -> Messages:
    """A request builder for judges that see the sample's images, then a prompt made from the sample."""

    async def messages(state: TaskState) -> list[ChatMessage]:
        return images_then(prompt_of(state), await sample_images(state))

    return messages
