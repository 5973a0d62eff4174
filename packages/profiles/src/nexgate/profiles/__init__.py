"""Nexgate profiles context: profiles, follows, blocks, privacy and an explainable trust score"""
