"""Actions and shortcuts: the registry, and the action groups of single features."""
