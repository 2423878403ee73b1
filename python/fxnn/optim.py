"""Fixed-point SGD (docs/fixed-point-training.md): for each weight with points W, GW, acc
    G = Q_GW(dL/dW),  W_acc = Q_acc(clip(W_acc - lr G)),  W = Q_W(W_acc)
with the accumulator kept in float64; every other parameter (biases, batch norm) gets plain SGD."""
import torch


class FixedPointSGD:
    def __init__(self, model, weights, lr, momentum=0.0, weight_clip=1.0):
        self.lr = lr
        self.momentum = momentum
        self.weight_clip = weight_clip
        self.weights = weights
        owned = {id(w.weight) for w in weights}
        self.float_parameters = [p for p in model.parameters() if id(p) not in owned]
        self.velocity = {}
        self.accumulators = {}
        with torch.no_grad():
            for w in weights:  # W_acc = Q_acc(clip(W)), W = Q_W(W_acc)
                acc = w.weight.detach().double()
                if weight_clip > 0:
                    acc.clamp_(-weight_clip, weight_clip)
                self.accumulators[w.layer] = w.acc.quantize(acc)
                w.weight.copy_(w.W.quantize(self.accumulators[w.layer]))

    def zero_grad(self):
        for p in [w.weight for w in self.weights] + self.float_parameters:
            p.grad = None

    def _with_momentum(self, key, gradient):
        if self.momentum <= 0:
            return gradient
        v = self.velocity.get(key)
        v = gradient.clone() if v is None else v.mul_(self.momentum).add_(gradient)
        self.velocity[key] = v
        return v

    @torch.no_grad()
    def step(self):
        for w in self.weights:
            if w.weight.grad is None:
                continue
            gradient = self._with_momentum(w.layer, w.GW.quantize(w.weight.grad))
            acc = self.accumulators[w.layer]
            acc.sub_(gradient.double(), alpha=self.lr)
            if self.weight_clip > 0:
                acc.clamp_(-self.weight_clip, self.weight_clip)
            acc = self.accumulators[w.layer] = w.acc.quantize(acc)
            w.weight.copy_(w.W.quantize(acc))
        for i, p in enumerate(self.float_parameters):
            if p.grad is not None:
                p.sub_(self._with_momentum(i, p.grad), alpha=self.lr)
