"""The one error a pipeline-run reports: its message becomes the run's pipelineRunErrorMessage."""


class TransferError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
