"""Help › Keyboard and Mouse: every interaction of the slice and 3D views in one table."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

SHORTCUTS: tuple[tuple[str, str, str], ...] = (
    ("Slice views", "Mouse wheel, Up / Down", "Next / previous slice"),
    ("Slice views", "Page Up / Page Down", "Move 10 slices"),
    ("Slice views", "Left click or drag", "Set the crosshair; all views follow"),
    ("Slice views", "Right-drag, or Ctrl + left-drag", "Window (left/right) and level (up/down)"),
    ("Slice views", "Middle-drag", "Pan"),
    ("Slice views", "Ctrl + wheel", "Zoom at the mouse"),
    ("Slice views", "Double-click", "Maximise this view / back to the layout"),
    ("Slice views", "Home", "Reset crosshair, window and zoom"),
    ("Slice views", "1 – 5", "CT: brain, subdural, stroke, lung, bone; MR: 1 = auto window"),
    ("3D view", "Left-drag", "Rotate"),
    ("3D view", "Middle-drag / Shift + left-drag", "Pan"),
    ("3D view", "Wheel / right-drag", "Zoom"),
    ("3D view", "r", "Reset the camera"),
    ("Window", "Ctrl+1 / Ctrl+2 / Ctrl+3", "Layout 1×3 / 2×2 with 3D / single view"),
    ("Window", "Ctrl+O / Ctrl+Shift+O", "Open folder / open file"),
    ("Window", "Ctrl+Home", "Reset views"),
    ("Editing", "B / E / T / F, Esc", "Brush / eraser / threshold brush / fill; Esc: back to navigating"),
    ("Editing", "Left-drag (Ctrl + left-drag)", "Paint with the tool (Ctrl inverts: the brush erases)"),
    ("Editing", "[ / ]", "Smaller / bigger brush"),
    ("Editing", "Ctrl+Z / Ctrl+Shift+Z", "Undo / redo the last edit"),
    ("Editing", "Ctrl+I", "Fill between slices (interpolate the active label)"),
    ("Editing", "Ctrl+Shift+A", "Accept the correction and add it to the queue"),
    ("Measuring", "Shift+R / Shift+A / Shift+T / Shift+O",
     "Ruler / angle / rectangle ROI / ellipse ROI (Measure menu)"),
    ("Measuring", "Ctrl+Alt+Z / Ctrl+Alt+Shift+Z, Delete",
     "Undo / redo a measurement; delete the selected one"),
    ("Window", "Ctrl+Shift+P", "Write the reading report (File › Report…): PDF and DICOM SR"),
)


def shortcuts_html() -> str:
    rows, section = [], None
    for group, keys, action in SHORTCUTS:
        if group != section:
            rows.append(f"<tr><td colspan=2><b>{group}</b></td></tr>")
            section = group
        rows.append(f"<tr><td style='padding-right:18px'><tt>{keys}</tt></td><td>{action}</td></tr>")
    return "<table cellspacing=3>" + "".join(rows) + "</table>"


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse")
        self.setObjectName("shortcuts_dialog")
        self.text = QLabel(shortcuts_html(), self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text)
        lay.addWidget(buttons)
