#!/usr/bin/env python
"""Packaging of the acrtransfer Azure CLI extension.

`install_requires` stays empty: az installs extension wheels offline with `pip --target`, and everything the
extension needs (azure-core, azure-mgmt-core, knack) ships with azure-cli itself.
"""
from setuptools import setup, find_packages

VERSION = "2.1.0"

CLASSIFIERS = [
    'Development Status :: 4 - Beta',
    'Intended Audience :: Developers',
    'Intended Audience :: System Administrators',
    'Programming Language :: Python',
    'Programming Language :: Python :: 3',
    'Programming Language :: Python :: 3.10',
    'Programming Language :: Python :: 3.11',
    'Programming Language :: Python :: 3.12',
    'License :: OSI Approved :: MIT License',
]

with open('README.md', 'r', encoding='utf-8') as f:
    README = f.read()
with open('HISTORY.rst', 'r', encoding='utf-8') as f:
    HISTORY = f.read()

setup(
    name='acrtransfer',
    version=VERSION,
    description='Azure CLI commands for ACR Transfer: export and import pipelines and pipeline-runs.',
    long_description=README + '\n\n' + HISTORY,
    long_description_content_type='text/markdown',
    license='MIT',
    author='acrtransfer maintainers',
    classifiers=CLASSIFIERS,
    packages=find_packages(include=['azext_acrtransfer', 'azext_acrtransfer.*']),
    install_requires=[],
    package_data={'azext_acrtransfer': ['azext_metadata.json']},
)
