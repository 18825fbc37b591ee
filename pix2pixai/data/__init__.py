"""Data layer: light curves, dmdt images, ZTF alert triplets, subcategories, synthetic surveys."""
