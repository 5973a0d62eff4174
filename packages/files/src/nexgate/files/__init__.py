"""Files: safe uploads, image variants with BlurHash, private files behind signed URLs."""
