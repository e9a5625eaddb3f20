"""cli: the ``forecast`` command (Typer and Rich); each module is one command group.

Commands parse options, call ``forecast.api`` or a stage module, and print the result:
only this package prints.
"""
