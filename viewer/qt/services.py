"""The app context handed to every feature: what a feature may use besides its own objects.

The main window creates one :class:`Services` and passes it to each feature's
``install(services)``. A feature declares what it needs in ``NEEDS`` (names of fields below) and
is installed only when they are there; it reads shared things from this object and registers what
it offers others here, in a declared field — never as an attribute on the main window, and never
by probing the window with ``hasattr``/``getattr`` (``tests/viewer/test_feature_seams.py`` checks
the feature sources for both).

``window`` is the Qt host and only its own public API is used: ``menu(title)``, ``statusBar()``,
``addDockWidget``, ``file_menu``/``help_menu``/``action_quit``/``action_about``, ``recent``,
``central``/``placeholder``, ``about_to_close``, ``open_requested``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.jobs import JobRunner
    from engine.models.store import ModelStore
    from viewer.qt.layers_panel import LayersPanel
    from viewer.qt.main_window import MainWindow
    from viewer.qt.messages import MessagesPanel
    from viewer.qt.study_opener import StudyOpener
    from viewer.qt.viewer_widget import ViewerWidget
    from viewer.state.viewer_model import ViewerModel


def _default_model() -> str:
    from engine.models import DEFAULT_MODEL

    return DEFAULT_MODEL


@dataclass(eq=False)
class Services:
    """Shared objects of one main window. ``None`` until the feature that provides it installed."""

    window: MainWindow
    jobs: JobRunner                     # all long work (``jobs_bridge.submit_watched``)
    models: ModelStore                  # installed models, active versions, loaded models
    #: the model the AI menu runs and fine-tuning improves (``NAME``, ``NAME@VERSION`` or a folder)
    model_source: str = field(default_factory=_default_model)
    # Provided by the reading feature (ORDER 10)
    model: ViewerModel | None = None
    viewer: ViewerWidget | None = None
    messages: MessagesPanel | None = None
    layers_panel: LayersPanel | None = None
    opener: StudyOpener | None = None
    cursor_readout: Any = None
    # Provided by later features, for the features (and tests) that use them
    edit: Any = None                    # features/edit.py EditController
    queue_panel: Any = None             # features/queue_panel.py QueuePanel
    ai: Any = None                      # features/_ai_controller.py AIController
    finetune: Any = None                # features/finetune.py FinetuneController
    export: Any = None                  # features/export.py ExportFeature
    selftest: Any = None                # features/selftest.py SelfTestRunner
    help: Any = None                    # features/help_shortcuts.py HelpShortcuts
    measurements: Any = None            # features/measurements.py: the MeasurementList shown
    report: Any = None                  # features/report.py ReportFeature
    screenshot_menu: Any = None         # features/screenshot.py
    layout_actions: dict[str, Any] = field(default_factory=dict)   # features/view_menu.py

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        """Which of ``needs`` (field names) are not provided yet."""
        unknown = [n for n in needs if n not in self.__dataclass_fields__]
        if unknown:
            raise ValueError(f"unknown services {unknown}")
        return [n for n in needs if getattr(self, n) is None]

    def status(self, message: str, timeout_ms: int = 5000) -> None:
        """Show ``message`` in the status bar."""
        self.window.statusBar().showMessage(message, timeout_ms)
