"""providers/rescue"""
