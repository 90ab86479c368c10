"""The sandbox's data plane: the transfer engine and the clients it drives (registry, storage, OCI layout)."""
from .engine import TransferOutcome, export_to_blob, import_from_blob
from .errors import TransferError
from .registry import ImageReference, Manifest, RegistryClient, RegistryError
from .samples import push_large_image, push_referrer, push_sample_images, push_small_images, push_special_image
from .storage import BlobContainer, BlobProperties

__all__ = ['BlobContainer', 'BlobProperties', 'ImageReference', 'Manifest', 'RegistryClient', 'RegistryError',
           'TransferError', 'TransferOutcome', 'export_to_blob', 'import_from_blob', 'push_large_image',
           'push_referrer', 'push_sample_images', 'push_small_images', 'push_special_image']
