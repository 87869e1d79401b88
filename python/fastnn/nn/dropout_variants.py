"""Dropout1d, Dropout3d, AlphaDropout and FeatureAlphaDropout: active in train mode, the identity in eval."""
from __future__ import annotations

from ..ops.dropout_variants import alpha_dropout, dropout1d, dropout3d, feature_alpha_dropout
from .dropout import Dropout


class Dropout1d(Dropout):
    def forward(self, input):
        return dropout1d(input, self.p, self.training)


class Dropout3d(Dropout):
    def forward(self, input):
        return dropout3d(input, self.p, self.training)


class AlphaDropout(Dropout):
    def forward(self, input):
        return alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(Dropout):
    def forward(self, input):
        return feature_alpha_dropout(input, self.p, self.training)
