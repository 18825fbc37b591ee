"""On-disk stores: explanation maps in chunked, resumable, atomically finalised HDF5 files."""

from pix2pixai.stores.maps import MapStore, model_hash, partial_path
from pix2pixai.stores.produce import produce_to_store

__all__ = ["MapStore", "model_hash", "partial_path", "produce_to_store"]
