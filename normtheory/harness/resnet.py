r"""ResNet-34 and ResNet-50 as real ``nn.Module`` s, built here (He et al. 2016, v1.5 layout:
the stride of a bottleneck sits on its 3x3 conv, as in torchvision).

Two stems: ``"imagenet"`` (7x7/2 conv, 3x3/2 max-pool, 1000 classes by default) and ``"cifar"``
(the blog's change: a 3x3/1 conv with 64 channels, no max-pool, 100 classes). ``width`` scales
every channel count (64 is the real network; the CPU ``--quick`` mode uses a narrow copy with the
same layout). Weight-shape tables are *derived* from the modules (:func:`resnet_weight_shapes`),
never typed in; torchvision, where installed, is an optional cross-check
(:func:`torchvision_weight_shapes`).
"""

from __future__ import annotations

from torch import nn

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet", "weight_layers", "resnet_weight_shapes",
           "torchvision_weight_shapes", "ARCHS", "STEMS"]

ARCHS = {"resnet34": ("basic", (3, 4, 6, 3)), "resnet50": ("bottleneck", (3, 4, 6, 3))}
STEMS = ("cifar", "imagenet")


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int = 1):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    """A ResNet of ``block`` ("basic" or "bottleneck") with ``layers`` blocks per stage."""

    def __init__(self, block: str, layers, *, stem: str = "cifar", num_classes: int | None = None,
                 width: int = 64):
        super().__init__()
        if stem not in STEMS:
            raise ValueError(f"stem must be one of {STEMS}, got {stem!r}")
        if block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive int, got {width!r}")
        if num_classes is None:
            num_classes = 100 if stem == "cifar" else 1000
        cls = BasicBlock if block == "basic" else Bottleneck
        self.stem_name = stem
        if stem == "cifar":
            self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        else:
            self.conv1 = nn.Conv2d(3, width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        cin, stages = width, []
        for i, n in enumerate(layers):
            planes = width * 2 ** i
            blocks = []
            for j in range(n):
                blocks.append(cls(cin, planes, 2 if (j == 0 and i > 0) else 1))
                cin = planes * cls.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet(arch: str, *, stem: str = "cifar", num_classes: int | None = None, width: int = 64) -> ResNet:
    """``resnet("resnet50", stem="cifar")``: the blog's CIFAR-100 ResNet-50 (100 classes)."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {sorted(ARCHS)}, got {arch!r}")
    block, layers = ARCHS[arch]
    return ResNet(block, layers, stem=stem, num_classes=num_classes, width=width)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``(name, module)`` of every Conv2d / Linear, in module order (the matrices we measure)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def resnet_weight_shapes(arch: str, stem: str = "cifar", *, width: int = 64,
                         num_classes: int | None = None) -> list[tuple[str, tuple[int, ...]]]:
    """``(name, weight shape)`` of every conv/linear layer, read off the module (no weights are
    stored: the model is built on the meta device)."""
    import torch

    with torch.device("meta"):
        model = resnet(arch, stem=stem, width=width, num_classes=num_classes)
    return [(n, tuple(m.weight.shape)) for n, m in weight_layers(model)]


def torchvision_weight_shapes(arch: str, stem: str = "cifar") -> list[tuple[str, tuple[int, ...]]] | None:
    """The same table from torchvision (with the blog's CIFAR edits applied), or None where
    torchvision is not installed."""
    try:
        import torchvision
    except ImportError:
        return None
    import torch

    with torch.device("meta"):
        model = getattr(torchvision.models, arch)(weights=None, num_classes=100 if stem == "cifar" else 1000)
        if stem == "cifar":
            model.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    return [(n, tuple(m.weight.shape)) for n, m in weight_layers(model)]
