"""`mis build`: the MIS construction pipeline (paper Sec. 3.2) as resumable steps.

Stages, each a step over a stream of records writing ``OUT/<stage>/`` (see :mod:`mis.build._store`):
``extract`` (seeds -> questions naming two objects) -> ``refine`` (keep harmful two-object questions,
concrete objects, image references, detoxified wording) -> ``render`` (one image per object, a VLM
critic, one refinement round) -> ``split`` (duplicates, text safety + sub-category, image harm ->
train / easy / hard) -> ``review`` (optional human decisions) -> ``label`` (safety-CoT labels for
train, judged, regenerated or dropped). The dataset is written in the MIS layout at ``OUT/`` with
``OUT/manifest.json``.

Backend protocol (plug-ins such as MIS-mini implement these; see docs/build.md):

- :class:`TextBackend`: ``name: str``, ``settings() -> dict``, ``async complete(ModelRequest) -> str``.
  A :class:`ModelRequest` carries ``step`` (extract, extract_image, refine, critic, text_safety,
  image_harm, label, label_judge), the rendered ``prompt``, ``images`` (paths, in order) and
  ``record`` (the template variables + ``id``, so an offline backend need not parse the prompt).
  Reply with the text a model would write (the JSON each prompt template asks for; prose for
  ``label``). Raise :class:`BackendError` when no answer could be produced (the record is retried
  on the next run); a malformed answer drops the record with its reason.
- :class:`ImageBackend`: ``name``, ``settings()``, ``render(ImageRequest) -> PIL.Image`` (sync; runs
  in a worker thread). Text entries of ``image.info`` whose key starts with ``mis:`` are kept in the
  PNG (the procedural renderer stamps ``mis:object`` so the exact checker knows the ground truth).

Pass instances with ``run_build(config, backends=Backends(text={...}, image=...))``, or make them
nameable in configs with :func:`register_text_backend` / :func:`register_image_backend`, or name a
factory as ``package.module:factory``. Generic offline backends: :class:`TemplateGenerator`,
:class:`ProceduralRenderer`, :class:`ExactChecker` (the world of :mod:`mis.mini`,
``mis/mini/world.yaml``; ``world: PATH`` in a config swaps in another).
"""

from mis.build._backends import Backends, register_image_backend, register_text_backend, resolve_backends
from mis.build._config import (
    MODEL_STEPS,
    PROMPT_STEPS,
    STAGES,
    BuildConfig,
    ConfigError,
    StepModel,
    T2IConfig,
    config_from_dict,
    load_config,
    resolve_config,
)
from mis.build._offline import ExactChecker, OfflineWorld, ProceduralRenderer, TemplateGenerator
from mis.build._pipeline import BuildError, BuildResult, Manifest, read_manifest, restart, run_build
from mis.build._prompts import PromptTemplate, load_prompts
from mis.build._protocol import BackendError, ImageBackend, ImageRequest, ModelRequest, TextBackend
from mis.build._review import ReviewError, review_export, review_import
from mis.build._runner import BuildEvent
from mis.build._seeds import SeedError, read_seeds

__all__ = [
    "MODEL_STEPS",
    "PROMPT_STEPS",
    "STAGES",
    "BackendError",
    "Backends",
    "BuildConfig",
    "BuildError",
    "BuildEvent",
    "BuildResult",
    "ConfigError",
    "ExactChecker",
    "ImageBackend",
    "ImageRequest",
    "Manifest",
    "ModelRequest",
    "OfflineWorld",
    "ProceduralRenderer",
    "PromptTemplate",
    "ReviewError",
    "SeedError",
    "StepModel",
    "T2IConfig",
    "TemplateGenerator",
    "TextBackend",
    "config_from_dict",
    "load_config",
    "resolve_config",
    "load_prompts",
    "read_manifest",
    "read_seeds",
    "register_image_backend",
    "register_text_backend",
    "resolve_backends",
    "restart",
    "review_export",
    "review_import",
    "run_build",
]
