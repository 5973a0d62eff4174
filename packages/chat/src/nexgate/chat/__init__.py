"""Nexgate chat context: realtime one-to-one conversations that never lose a message"""
