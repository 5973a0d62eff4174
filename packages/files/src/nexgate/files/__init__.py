"""Nexgate files context: safe uploads, image variants with BlurHash, video transcoding"""
