"""A plain PyTorch pix2pix training loop, written the way people write it by hand (the
reference repository's networks and ``optimize_parameters``), as the baseline i2i is
measured against. Nothing here imports i2i."""

from __future__ import annotations

import torch
from torch import nn


class UnetBlock(nn.Module):
    def __init__(self, outer, inner, input_nc=None, sub=None, outermost=False, innermost=False, dropout=False):
        super().__init__()
        self.outermost = outermost
        input_nc = outer if input_nc is None else input_nc
        down = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=False)
        if outermost:
            layers = [down, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, nn.BatchNorm2d(inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.BatchNorm2d(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet_256(ngf=64):
    block = UnetBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(3):
        block = UnetBlock(ngf * 8, ngf * 8, sub=block, dropout=True)
    block = UnetBlock(ngf * 4, ngf * 8, sub=block)
    block = UnetBlock(ngf * 2, ngf * 4, sub=block)
    block = UnetBlock(ngf, ngf * 2, sub=block)
    return UnetBlock(3, ngf, input_nc=3, sub=block, outermost=True)


def patchgan_70(in_nc=6, ndf=64):
    layers = [nn.Conv2d(in_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    mult = 1
    for n in range(1, 4):
        prev, mult = mult, min(2 ** n, 8)
        layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2 if n < 3 else 1, 1, bias=False),
                   nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
    layers.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
    return nn.Sequential(*layers)


def init_normal(net):
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return net


class PlainPix2Pix:
    """``step(real_a, real_b)``: the reference's ``optimize_parameters`` (D then G, vanilla GAN +
    100 x L1, Adam 2e-4 / (0.5, 0.999) with torch's default implementation), fp32."""

    def __init__(self, device, ngf: int = 64):
        self.G = init_normal(unet_256(ngf)).to(device)
        self.D = init_normal(patchgan_70(ndf=ngf)).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.gan = nn.BCEWithLogitsLoss()
        self.l1 = nn.L1Loss()

    def step(self, real_a, real_b):
        fake = self.G(real_a)
        for p in self.D.parameters():
            p.requires_grad_(True)
        self.opt_d.zero_grad()
        pred_fake = self.D(torch.cat([real_a, fake.detach()], 1))
        pred_real = self.D(torch.cat([real_a, real_b], 1))
        loss_d = 0.5 * (self.gan(pred_fake, torch.zeros_like(pred_fake)) + self.gan(pred_real, torch.ones_like(pred_real)))
        loss_d.backward()
        self.opt_d.step()
        for p in self.D.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        pred_fake = self.D(torch.cat([real_a, fake], 1))
        loss_g = self.gan(pred_fake, torch.ones_like(pred_fake)) + 100.0 * self.l1(fake, real_b)
        loss_g.backward()
        self.opt_g.step()
        return loss_d.item(), loss_g.item()  # what a hand-written loop prints every step
