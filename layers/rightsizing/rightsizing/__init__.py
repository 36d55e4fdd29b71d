"""Domain library of the SageMaker endpoint rightsizing service (shipped as a Lambda layer).

Pure logic lives here (models, load search, statistics, pricing math, recommender, report); AWS calls sit in
``rightsizing.adapters`` behind small protocols so the local backend can implement the same interfaces.
"""

__version__ = "0.1.0"
