"""voicecoach: an offline, hands-free voice coach for the leg raise."""

__version__ = "0.1.0"
