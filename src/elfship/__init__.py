"""elfship: will this Linux binary run on the server it is shipped to?"""

__version__ = "0.1.0"
