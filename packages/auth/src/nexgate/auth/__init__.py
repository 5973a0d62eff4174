"""Nexgate auth context: accounts, verified identifiers, device sessions and signed tokens"""
