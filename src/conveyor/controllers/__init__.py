"""The loops that make observed state equal desired state: the only place combining store and
engine. Decisions come from pure functions in `conveyor.domain`; this package carries them out."""
