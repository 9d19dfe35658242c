"""Reference values for tests/trees.rs::one_exact_tree_matches_scikit_learn_cart.

Run: /tmp/skl/bin/python benches/compare/sklearn_tree_reference.py
(venv as in sklearn_forest.py). Prints the version, leaf counts and
predictions pasted into the test.
"""
import numpy as np, sklearn
from sklearn.tree import DecisionTreeRegressor
n=30
i=np.arange(n)
X=np.column_stack([((i*7)%11)/10.0, ((i*5+3)%13)/12.0, np.cos(i*1.3)])
y=np.sin(i*0.7)+X[:,0]**2
w=1.0+(i%3)
print(sklearn.__version__)
for kw in [dict(max_depth=3, min_samples_leaf=2), dict(max_depth=None, min_weight_fraction_leaf=0.1)]:
    t=DecisionTreeRegressor(random_state=0, **kw).fit(X,y,sample_weight=w)
    print(kw, t.get_n_leaves())
    print(",\n".join(", ".join(f"{v:.15f}" for v in t.predict(X)[k:k+3]) for k in range(0,n,3)))
