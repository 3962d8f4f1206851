"""The notebook layer: everything a user sees and types in Jupyter.

The magics (``%%gemma``, ``%gemma``, ``%%gemma_compare``) and how their lines are parsed
and ``{variables}`` filled in; the renderers of a streaming answer, its footer and the
tables; the live comparison grid; the parameter panel (ipywidgets). The only layer that
imports IPython or ipywidgets at module level. May import every layer below it
(``comparisons``, ``workflows``, ``api`` and down); nothing imports it except the
package's ``load_ipython_extension`` and the lazy public names.
"""
