"""An nn.Sequential subclass registering its layers as attributes (densenet's _Transition):
torch runs them in the order assigned; refused rather than translated into an empty Keras
Sequential."""

from torch import nn


class Transition(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.conv = nn.Conv2d(cin, cout, kernel_size=1, bias=False)

# output
# diag_sequential_attributes.py:8:7: error: layers assigned to attributes of an nn.Sequential subclass (norm, conv) are not translated: torch runs them in order, Keras's Sequential does not (hint: pass the layers to super().__init__(...))
# diag_sequential_attributes.py:11:21: error: torch.nn.BatchNorm2d is translated only where forward() applies it to feature maps directly (`self.conv(x)`, in an nn.Sequential attribute): elsewhere the tensor facts cannot place its channels-last maps (hint: construct it as an attribute in __init__ and call it in forward())
# diag_sequential_attributes.py:12:21: error: torch.nn.Conv2d is translated only where forward() applies it to feature maps directly (`self.conv(x)`, in an nn.Sequential attribute): elsewhere the tensor facts cannot place its channels-last maps (hint: construct it as an attribute in __init__ and call it in forward())
