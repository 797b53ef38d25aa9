"""User-facing text of the Libs, marked where it is written (review finding 8): Qt's lupdate extracts
only string literals at a ``translate("context", "text")`` call (``Base/Python/slicer/i18n.py`` v5.8.1
l. 9-12), so a widget's ``_(variable)`` never reaches the ``.ts`` files. Outside Slicer (the Studio,
tests) ``slicer.i18n`` does not exist and the English text is returned."""


def translate(context: str, text: str) -> str:
    try:
        from slicer.i18n import translate as slicer_translate
    except ImportError:
        return text
    return slicer_translate(context, text)
