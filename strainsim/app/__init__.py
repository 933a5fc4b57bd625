"""The application: the command line, tables and plots, the explorer.
"""
