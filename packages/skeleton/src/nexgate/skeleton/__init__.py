"""Skeleton: the template context. Copy this package to start a new one."""
