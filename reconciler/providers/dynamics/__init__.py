"""providers/dynamics"""
