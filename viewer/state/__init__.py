"""Pure-Python viewer state with events (psygnal): no Qt, no torch. Qt widgets bind to it."""
