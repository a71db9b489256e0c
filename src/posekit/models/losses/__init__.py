"""Losses: plain functions/modules shared by estimators and strategies."""
