"""Light and dark: the app's palette, and colours that read well on either.

``apply_theme(app, "system" | "light" | "dark")`` sets the palette at run time (no
restart). Widgets that paint their own colours ask :func:`ink` for the variant that
suits the current palette, and refresh on ``QEvent.PaletteChange``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

#: name -> (on a light background, on a dark one)
INKS: dict[str, tuple[str, str]] = {
    "muted": ("#757575", "#a0a0a0"),
    "label": ("#616161", "#b0b0b0"),
    "number": ("#0d47a1", "#82b1ff"),
    "old": ("#b71c1c", "#ff8a80"),
    "new": ("#1b5e20", "#a5d6a7"),
    "warning": ("#8a4b00", "#ffcc80"),
    "chart_bg": ("#ffffff", "#1e1e1e"),
    "chart_axis": ("#616161", "#9e9e9e"),
    "chart_text": ("#212121", "#e0e0e0"),
    "chart_cursor": ("#9e9e9e", "#757575"),
    "chart_fleet": ("#5a5a5a", "#c8c8c8"),  # the fleet's aggregate line and band
    "panel_bg": ("rgba(255,255,255,235)", "rgba(40,40,40,235)"),
    "panel_border": ("#bdbdbd", "#5a5a5a"),
}

_system: tuple[str, QPalette] | None = None  # the style and palette the app started with


def dark_palette() -> QPalette:
    p = QPalette()
    text, window, base, button = QColor("#e6e6e6"), QColor("#2b2b2b"), QColor("#1e1e1e"), QColor("#353535")
    disabled = QColor("#7a7a7a")
    for role, colour in (
        (QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, QColor("#262626")),
        (QPalette.ColorRole.ToolTipBase, QColor("#3a3a3a")), (QPalette.ColorRole.ToolTipText, text),
        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, button),
        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.BrightText, QColor("#ff6e6e")),
        (QPalette.ColorRole.Link, QColor("#6ab0f3")), (QPalette.ColorRole.Highlight, QColor("#2f6fb3")),
        (QPalette.ColorRole.HighlightedText, QColor("#ffffff")),
        (QPalette.ColorRole.PlaceholderText, QColor("#8a8a8a")),
        (QPalette.ColorRole.Light, QColor("#4a4a4a")), (QPalette.ColorRole.Midlight, QColor("#404040")),
        (QPalette.ColorRole.Mid, QColor("#303030")), (QPalette.ColorRole.Dark, QColor("#1a1a1a")),
        (QPalette.ColorRole.Shadow, QColor("#000000")),
    ):
        p.setColor(role, colour)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(app: QApplication, theme: str) -> str:
    """Set ``theme`` (unknown names mean "system"); returns the theme applied."""
    global _system
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()))
    theme = theme if theme in THEMES else "system"
    if theme == "system":
        app.setStyle(QStyleFactory.create(_system[0]) or app.style())
        app.setPalette(_system[1])
    else:
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(dark_palette() if theme == "dark" else app.style().standardPalette())
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "setColorScheme"):  # Qt 6.8+: native dialogs and title bars follow
        scheme = {"dark": Qt.ColorScheme.Dark, "light": Qt.ColorScheme.Light}.get(theme, Qt.ColorScheme.Unknown)
        hints.setColorScheme(scheme)
    return theme


def is_dark(palette: QPalette | None = None) -> bool:
    pal = palette if palette is not None else QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def ink_name(name: str) -> str:
    """The colour (as CSS text) of ``name`` for the current palette."""
    light, dark = INKS[name]
    return dark if is_dark() else light


def ink(name: str) -> QColor:
    return QColor(ink_name(name))
