"""PySide6 widgets: thin views bound to ``viewer.state`` models."""
